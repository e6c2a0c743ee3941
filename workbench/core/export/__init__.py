"""Exporting trained runs: the safe `.wbmodel` bundle, TorchScript and ONNX files, model cards and reports."""
