"""kb's search engine on Whoosh: the only package that imports ``whoosh``. Callers use the
neutral facade ``kb.search``, never these modules."""
