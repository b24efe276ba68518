"""Theory: analyses of memory (stm, fisher, capacity, profile, ...); submodules import lazily."""
