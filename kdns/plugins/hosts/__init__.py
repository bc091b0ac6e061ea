"""hosts: answers from an /etc/hosts-style file and inline entries, CoreDNS's *hosts*."""
