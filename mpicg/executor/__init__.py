"""Executors: who computes a batch of objective values (this process, or MPI ranks)."""

from .base import Evaluator
from .serial import SerialEvaluator

__all__ = ["Evaluator", "SerialEvaluator"]
