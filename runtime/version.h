// Version numbers of mlcc and of the formats it writes, so that a library or weight set of
// another version is recognised and refused with a message naming both versions.
#pragma once

namespace mlcc {

const char* version_string();  // "0.1.0"
// Version of the compiled-library format (manifest + bytecode + device blobs).
constexpr int kLibraryFormatVersion = 1;

}  // namespace mlcc
