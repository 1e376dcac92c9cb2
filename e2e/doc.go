// Package e2e holds the end-to-end tests of chemledger: they build the real
// chemledgerd and chemledger binaries once, run the service on 127.0.0.1
// with ephemeral ports and a temporary data directory, and talk to it the
// way users and auditors do, over gRPC, HTTP/JSON and the CLI. They also
// kill it mid-write and tamper with its file, and check that nothing
// acknowledged is lost and nothing changed goes unnoticed.
//
//	go test ./e2e/
//	CHEMLEDGER_E2E_ROUNDS=50 go test ./e2e/ -run Durability -timeout 30m
package e2e
