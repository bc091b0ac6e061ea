"""End-to-end tests of the transports, server blocks and CLI against a real kdns process."""
