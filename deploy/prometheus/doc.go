// Package prometheus holds no Go code of tend: this directory is the
// example Prometheus configuration for tend agents (prometheus.yml, the
// alerting rules alerts.yml and their unit tests alerts_test.yml), and
// prometheus_test.go checks it together with the Grafana dashboard in
// ../grafana: promtool accepts the files and passes the rule tests, and
// every series and label they use is one the agent exports (read from
// agent/metrics.go). Start reading at alerts.yml.
package prometheus
