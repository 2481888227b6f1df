"""Everything that remembers, at the edge of the check: verifications, key listings,
package verdicts and whole-check results, in one store. The command layer wires it into
the engine through the engine's own interfaces; ``--no-cache`` leaves it out."""
