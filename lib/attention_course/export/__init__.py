"""Export the shipped models for other runtimes (ONNX for the browser: :mod:`.onnx`)."""
