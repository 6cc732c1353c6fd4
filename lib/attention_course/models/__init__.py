"""Models: encoder, attention mechanisms and decoders (one concept per module)."""
from .attention import BahdanauAttention, LocalAttention, LuongAttention, build_attention, masked_softmax
from .bahdanau_decoder import BahdanauDecoder
from .decoder import Decoder, select_state
from .encoder import Encoder, EncoderOutput
from .layers import DeepOutput, Memory, TiedProjection, gru_step
from .luong_decoder import LuongDecoder
from .plain_decoders import ContextEveryStepDecoder, ContextInitDecoder
from .seq2seq import DECODERS, ModelConfig, Seq2Seq, build_model
from .source_reversal import reverse_padded
from .transformer_decoder import TransformerDecoder
from .transformer_encoder import TransformerEncoder

__all__ = [n for n in dir() if not n.startswith("_")]
