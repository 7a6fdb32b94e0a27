#!/usr/bin/env bash
# Prepares the training data of tiny-kjv, mlcc's own small model: the King James Version of
# the Bible (public domain; Debian's bible-kjv-text package, read with its `bible` program),
# one verse per line, and a 2048-token SentencePiece BPE tokenizer trained on it (Llama's
# conventions: unk 0, BOS 1, EOS 2, byte fallback, no normalization).
#
#   examples/tiny-kjv/prepare_data.sh OUT_DIR   (writes kjv.txt, tokenizer.model, tokens.bin)
#
# Needs: apt-get install bible-kjv sentencepiece python3-sentencepiece python3-numpy
set -euo pipefail
out=${1:?usage: prepare_data.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for tool in bible spm_train; do
  command -v $tool >/dev/null || { echo "prepare_data: '$tool' not found (apt-get install bible-kjv sentencepiece)" >&2; exit 1; }
done

# `bible` prints "Book N" headings and "  V text" verse lines; keep the verse text only.
bible -l100000 Gen1:1-Rev22:21 | sed -n 's/^ *[0-9][0-9]* //p' > "$out/kjv.txt"
echo "prepare_data: $(wc -l < "$out/kjv.txt") verses, $(wc -c < "$out/kjv.txt") bytes"

spm_train --input="$out/kjv.txt" --model_prefix="$out/tokenizer" --model_type=bpe \
  --vocab_size=2048 --character_coverage=1.0 --byte_fallback=true \
  --normalization_rule_name=identity --remove_extra_whitespaces=false \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 --max_sentence_length=16384 \
  --num_threads=2 --minloglevel=2

# Token ids of the whole text, each verse BOS-prefixed as a document, as u16.
/usr/bin/python3 "$here/tokenize_corpus.py" "$out/tokenizer.model" "$out/kjv.txt" "$out/tokens.bin"
