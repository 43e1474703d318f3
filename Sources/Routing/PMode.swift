// P-Modes and routing (placeholder until the P-Mode work lands).
