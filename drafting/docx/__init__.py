"""Word documents: GB/T 9704-2012 export and reading edited documents back.

Layout constants (``layout``), body and heading rendering (``body``), 定稿/送审稿 export with
comments (``export``, ``annotate``), the layout checker (``check``), raw OOXML helpers (``ooxml``),
reading an edited .docx (``importer``) and storing it as the next version (``roundtrip``).
May import the core modules and ``drafting.checks``.
"""
