"""Accuracy in the loop: quantization-aware training in every PE format and hardware-exact inference.

:mod:`.quantizers` (format labels, the fake-quantizer), :mod:`.data` (digits,
CIFAR), :mod:`.network` (a workload's layer table as a network, the host-side
steps, the golden path), :mod:`.train` (recipe, training, evaluation, weights
files), :mod:`.runs` (resumable results per format and seed), :mod:`.coexplore`
(accuracy joined with the exploration's points), :mod:`.tensors` (one trained
layer's operands for the RTL) and :mod:`.cli`.
"""
