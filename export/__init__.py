"""Exporters, installed as `melanoma.export`: one module per mobile target.

Every target module has the same small surface (see `base.py`) and
`registry.TARGETS` maps a target name to its module.
"""
