"""Torch layers whose weights stay in the equivariant subspace, and the EMLP model."""

from .bilinear import BiLinear, bilinear_mid_rep
from .dynamics import HNN, NeuralODE, rk4_rollout
from .emlp import EMLP, MLP, EMLPBlock, hidden_reps
from .linear import Linear
from . import isotypic_plan as _isotypic_plan  # registers Linear(..., plan="isotypic")
from .rpp import RPP, SoftLinear
from .nonlinear import GatedNonlinearity, NormNonlinearity, PointwiseNonlinearity, gated
from .uniform import uniform_rep
from .fields import FieldType
from .steerable_conv import SteerableConv2d
from .field_ops import FieldBatchNorm2d, FieldPool2d, GroupPooling

__all__ = [
    "Linear",
    "BiLinear",
    "bilinear_mid_rep",
    "GatedNonlinearity",
    "NormNonlinearity",
    "PointwiseNonlinearity",
    "gated",
    "uniform_rep",
    "EMLPBlock",
    "EMLP",
    "MLP",
    "hidden_reps",
    "HNN",
    "NeuralODE",
    "rk4_rollout",
    "RPP",
    "SoftLinear",
    "FieldType",
    "SteerableConv2d",
    "GroupPooling",
    "FieldPool2d",
    "FieldBatchNorm2d",
]
