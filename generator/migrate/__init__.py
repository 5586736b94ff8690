"""From PodSecurityPolicy to the Pod Security Standards: the proof behind each mapping, RBAC, and the reports."""
