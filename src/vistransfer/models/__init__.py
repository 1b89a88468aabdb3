"""Networks: the teacher h1 and students (nets), the generator bank G, teacher checkpoints."""
