"""vrbench: does this text-to-video model reason? The reference harness for VR-Bench and the Lumos-Nexus sampler."""

__version__ = "0.1.0"
