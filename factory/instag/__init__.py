"""InsTag (Lu et al., 2023) and instruction evolution, the front half of collaborative annotation.

- ``tags``: the tag schema the model answers in, and the rule normalisation of one tag
- ``embeddings``: the sentence-embedding model used to merge synonyms (offline MiniLM)
- ``ontology``: raw tags of many instructions -> the normalised ontology (pure, deterministic)
- ``selection``: complexity-first greedy coverage selection and its random baseline
- ``elimination``: the rules that drop failed evolutions
- ``store``: ontologies, selections and evolved instructions in the database

The strategies that call the model live in ``factory.strategies.tagging`` and ``.evolution``.
"""
