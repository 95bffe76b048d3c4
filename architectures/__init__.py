"""Built-in architectures, shipped as package data (*.cnn)."""
