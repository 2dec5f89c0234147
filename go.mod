module github.com/cardbridge/cardbridge

go 1.26.8
