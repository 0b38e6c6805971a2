"""Parser evaluation on labelled corpora, and the load test's replay backend."""
