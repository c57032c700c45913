"""The Streamlit workspace's pieces, importable and testable without Streamlit running.

Session state and the model factory (``state``; the demo model lives in drafting.testing), the actions
behind each button (``actions``), page bodies (``pages``, ``revise``, the facts ledger's section
``ledger``) and small view helpers (``views``). app.py holds layout and wiring only and calls into
these. May import everything else; nothing imports ``drafting.ui``.
"""
