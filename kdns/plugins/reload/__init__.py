"""reload: re-read the Corefile when its content changes and swap the new configuration in."""
