"""The authoritative engine: zones in memory, pre-rendered answers, the handler that serves
them and the reload that swaps them. Shared by records, file and k8s_external; knows no file
format (each plugin turns its files into ``zonedata.Zone``s) and nothing of Kubernetes."""
