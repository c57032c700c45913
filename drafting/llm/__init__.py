"""The model side: the only code that talks to a model provider.

Owns the chat/embedding clients (``client``: OpenAI-compatible endpoints, the local llama.cpp default),
one guarded call path with deadlines, retries, JSON repair and the classified-text guard (``calls``),
the local model server's lifecycle (``local_server``) and the prompt-template loader (``prompts``).
May import the core modules only (config, errors, domain, classified, textclean).
"""
