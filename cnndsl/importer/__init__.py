"""`cnndsl import`'s framework-independent half: an import graph -> statements -> blocks -> text."""
