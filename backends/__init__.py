"""Backend plugins shipped with cnndsl; each registers in the `cnndsl.backends` entry-point group."""
