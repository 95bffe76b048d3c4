"""The .cnn grammar, shipped as package data (cnn.lark)."""
