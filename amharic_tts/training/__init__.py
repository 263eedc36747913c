"""Training: arguments, collator, length-grouped sampling, the Trainer subclass and its callbacks."""
