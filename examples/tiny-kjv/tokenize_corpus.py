#!/usr/bin/env python3
"""Tokenizes the training text of tiny-kjv: each line (a verse) becomes BOS + its pieces,
all concatenated and written as little-endian u16 ids, the format train.py reads."""
import sys

import numpy as np
import sentencepiece as spm


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit("usage: tokenize_corpus.py TOKENIZER_MODEL TEXT OUT_BIN")
    sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
    ids = []
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                ids.append(sp.bos_id())
                ids.extend(sp.encode(line))
    np.asarray(ids, dtype="<u2").tofile(sys.argv[3])
    print(f"tokenize_corpus: {len(ids)} tokens, vocabulary {sp.get_piece_size()}")


if __name__ == "__main__":
    main()
