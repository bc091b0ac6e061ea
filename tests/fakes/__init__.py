"""Test doubles at the seams: the fake kube-apiserver (``apiserver``) and friends."""
