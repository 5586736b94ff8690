module pssgen.local/goprint

go 1.26.0
