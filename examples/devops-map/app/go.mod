module example.com/devops-map

go 1.22
