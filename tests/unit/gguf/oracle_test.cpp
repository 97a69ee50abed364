// Placeholder replaced below by the oracle comparisons.
