"""The ``domicile`` command line: parse, call the engine, render."""
