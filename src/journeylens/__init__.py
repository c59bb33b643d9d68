"""journeylens: open-source customer journey analytics."""
