# Loops of children, each reported once through its earliest group.
group "a" {
  children = ["x", "b"] # ERROR: Group cycle
}

group "b" {
  children = ["c"]
}

group "c" {
  children = ["a", "b"]
}

group "x" {}

group "self" {
  children = ["self"] # ERROR: Group cycle
}

host "h" {
  groups = ["c"]
}
