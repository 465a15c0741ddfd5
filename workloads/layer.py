"""One convolution layer's shape, in Eyeriss / Timeloop notation."""

from __future__ import annotations

from dataclasses import dataclass

from quidam.errors import ConfigError

__all__ = ["ConvLayer"]


@dataclass(frozen=True)
class ConvLayer:
    """A 2-D convolution: ``M`` filters of ``C x R x S`` over a ``C x H x W`` ifmap.

    Parameters
    ----------
    name : str
        Layer name, unique within its network.
    C, M : int
        Input and output channels.
    H, W : int
        Input feature-map height and width (before padding).
    R, S : int
        Filter height and width.
    stride : int
        Same stride in both dimensions.
    padding : int
        Zero padding on every side.

    Members
    -------
    E, F : int
        Output height and width.
    macs : int
        Multiply-accumulates for one input image.
    weights : int
        Filter weights ``M * C * R * S``.
    """

    name: str
    C: int
    M: int
    H: int
    W: int
    R: int
    S: int
    stride: int = 1
    padding: int = 0

    def __post_init__(self):
        for field in ("C", "M", "H", "W", "R", "S", "stride"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"layer {self.name}: {field} must be a positive integer, not {value!r}")
        if not isinstance(self.padding, int) or isinstance(self.padding, bool) or self.padding < 0:
            raise ConfigError(f"layer {self.name}: padding must be a non-negative integer, not {self.padding!r}")
        if self.R > self.H + 2 * self.padding or self.S > self.W + 2 * self.padding:
            raise ConfigError(f"layer {self.name}: a {self.R}x{self.S} filter does not fit a "
                              f"{self.H}x{self.W} ifmap padded by {self.padding}")

    @property
    def E(self) -> int:
        return (self.H + 2 * self.padding - self.R) // self.stride + 1

    @property
    def F(self) -> int:
        return (self.W + 2 * self.padding - self.S) // self.stride + 1

    @property
    def macs(self) -> int:
        return self.M * self.C * self.R * self.S * self.E * self.F

    @property
    def weights(self) -> int:
        return self.M * self.C * self.R * self.S

    def scaled(self, channels_scale: float) -> ConvLayer:
        """The same layer with ``C`` and ``M`` scaled by ``channels_scale`` (at least 1 each).

        Used to simulate a real layer's spatial shape at a fraction of its
        channel count, which keeps RTL simulations short.
        """
        if not 0 < channels_scale <= 1:
            raise ConfigError(f"channels scale must be in (0, 1], not {channels_scale!r}")
        return ConvLayer(
            name=self.name, C=max(1, round(self.C * channels_scale)), M=max(1, round(self.M * channels_scale)),
            H=self.H, W=self.W, R=self.R, S=self.S, stride=self.stride, padding=self.padding,
        )
