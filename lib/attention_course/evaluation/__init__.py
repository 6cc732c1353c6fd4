"""Evaluation: BLEU and chrF with sacrebleu, BLEU by source length, perplexity, and paired
bootstrap intervals for BLEU / chrF differences."""
from .bleu import LENGTH_BUCKETS, bleu_by_length, corpus_bleu, corpus_chrf, length_bucket
from .perplexity import perplexity
from .significance import PairedResult, paired_bootstrap

__all__ = ["LENGTH_BUCKETS", "bleu_by_length", "corpus_bleu", "corpus_chrf", "length_bucket", "perplexity",
           "PairedResult", "paired_bootstrap"]
