// Tests of hal/BoardIO against the kernel interfaces' real file formats.
