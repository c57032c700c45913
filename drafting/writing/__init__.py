"""The writing stages, brief -> outline -> draft -> review -> revision, and their orchestration.

One module per stage (``brief``, ``outline``, ``draft``, ``review``, ``revise``), the genre profiles
(``genres``), the classics and policy banks (``banks``), the five principles per part (``principles``), passage formatting for prompts
(``references``) and ``pipeline``, which runs the stages in order and saves to the workspace.
Stages exchange typed data (drafting.domain); only ``pipeline`` calls several stages.
May import the core modules, ``drafting.llm``, ``drafting.corpus`` and ``drafting.checks``.
"""
