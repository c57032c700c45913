"""Deterministic checks: what a program can verify on a text without a model.

The draft gate (``gate``: transplanted and unsourced facts, copied runs, fragments, repeats, leaked
text, register, numbering, with repair), fact finding (``facts``), genre lint (``lint``), quotation
and formulation checks against the banks (``bankcheck``), the 慢稿 never-worse checks
(``revise_checks``), locked sentences (``locks``) and the facts ledger (``ledger``: every fact of a
draft with its source, confirmed or corrected once by the writer, kept by every revision).
May import the core modules and the banks' data; no model calls.
"""
