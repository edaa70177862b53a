//! Issue 3: `import`, complete.
