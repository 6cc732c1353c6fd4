"""Evaluation: BLEU and chrF with sacrebleu, BLEU by source length, perplexity."""
from .bleu import LENGTH_BUCKETS, bleu_by_length, corpus_bleu, corpus_chrf, length_bucket
from .perplexity import perplexity

__all__ = ["LENGTH_BUCKETS", "bleu_by_length", "corpus_bleu", "corpus_chrf", "length_bucket", "perplexity"]
