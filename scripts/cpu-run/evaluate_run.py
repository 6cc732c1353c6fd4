"""Test BLEU (multi-reference, greedy and beam 5) and BLEU by source length of a trained model folder.

    python scripts/cpu-run/evaluate_run.py runs/NAME/model

For runs that are not shipped models (``python -m attention_course.evaluation.report`` does the
full model card for the shipped ones).
"""
import sys

import torch

from attention_course.checkpoint import load_model
from attention_course.data.split import test_set
from attention_course.evaluation.bleu import bleu_by_length, corpus_bleu
from attention_course.translator import Translator


def main(model_dir: str) -> None:
    torch.set_num_threads(2)
    model, _, src_vocab, tgt_vocab = load_model(model_dir)
    translator = Translator(model, src_vocab, tgt_vocab)
    examples = test_set("test")
    sources, refs = [e.source for e in examples], [e.references for e in examples]
    for beam in (1, 5):
        hyps = [t.text for t in translator.translate_batch(sources, beam_size=beam)]
        print(f"beam {beam}: BLEU {corpus_bleu(hyps, refs).score:.2f}")
    print(bleu_by_length(sources, hyps, refs))


if __name__ == "__main__":
    main(sys.argv[1])
