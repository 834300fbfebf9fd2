"""A tiny calculator: the code an agent's patch changes."""


def add(a, b):
    return a + b


def mul(a, b):
    return a * b
