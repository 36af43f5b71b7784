"""History: SR topics exported to archives and published again (``archive``), re-judged into prefixed topics
(``replay``), and counted into the incidence report (``sources`` reads, ``stats`` counts, ``render`` and
``page`` show)."""
