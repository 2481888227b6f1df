"""The auditor's loop: the registry, tarballs, inspection and review, the user's own gpg."""
