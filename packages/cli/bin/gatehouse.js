#!/usr/bin/env node
// The `gatehouse` command. Node 24 strips the TypeScript types of the sources itself.
import '../src/main.ts';
