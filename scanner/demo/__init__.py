"""The demo front: the whole story (scan -> verify -> investigate -> revoke) against an emulated AWS."""

from scanner.demo.story import run_demo

__all__ = ["run_demo"]
