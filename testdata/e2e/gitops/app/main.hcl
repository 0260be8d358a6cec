# The app of the GitOps end-to-end test (cmd/tend/gitops_test.go): one
# version file per host. The test commits this file to a Git repository and
# rewrites the version string in later commits.

role "app" {
  hosts = ["*"]

  directory "/srv/app" {
    mode = "0755"
  }

  file "/srv/app/app.toml" {
    content    = "version = \"v0.5.0\"\n"
    mode       = "0644"
    depends_on = [directory["/srv/app"]]
  }
}
